"""Bank cards (SPEC section 5), one concern per module, re-exporting the names callers use as
`cards.NAME`:

- `forms`: the form checks of a binding (no state read): `check_number`, `check_card_input`, …
- `binding`: the binding flow with its SMS step (`start_binding`, `check_sms_code`,
  `confirm_binding`).
- `bound`: the bound cards: `card_public` (the only shape of a card that leaves the package),
  listing, the default card, unbinding, and `payment_card` for the checkout.

Imports go one way: `binding` → `forms` → `bound`. No module of the package imports this
`__init__`.
"""

from wxshop_cli.core.cards.binding import (
    CANCELLED,
    FINGERPRINT,
    IDENTITY_ID,
    IDENTITY_NAME,
    PENDING,
    SMS_CODE,
    SMS_MAX_TRIES,
    SMS_VALIDITY,
    StartedBinding,
    binding_needs_password,
    binding_public,
    check_sms_code,
    confirm_binding,
    paypassword_needed,
    sms_text,
    start_binding,
)
from wxshop_cli.core.cards.bound import (
    BOUND,
    UNBOUND,
    CardPublic,
    card_display,
    card_public,
    check_card_id,
    display_name,
    list_cards,
    payment_card,
    set_default_card,
    show_card,
    unbind_card,
)
from wxshop_cli.core.cards.forms import (
    CardInput,
    CardNumber,
    check_card_input,
    check_credit_fields,
    check_holder_fields,
    check_number,
    check_sms_code_form,
)

__all__ = [
    "BOUND", "CANCELLED", "FINGERPRINT", "IDENTITY_ID", "IDENTITY_NAME", "PENDING", "SMS_CODE",
    "SMS_MAX_TRIES", "SMS_VALIDITY", "UNBOUND", "CardInput", "CardNumber", "CardPublic",
    "StartedBinding", "binding_needs_password", "binding_public", "card_display", "card_public",
    "check_card_id", "check_credit_fields", "check_card_input", "check_holder_fields",
    "check_number", "check_sms_code", "check_sms_code_form", "confirm_binding", "display_name",
    "list_cards", "payment_card", "paypassword_needed", "set_default_card", "show_card",
    "sms_text", "start_binding", "unbind_card",
]
