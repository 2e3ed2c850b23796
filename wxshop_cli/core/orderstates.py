"""The states of an order (SPEC section 8), shared by `core.orders` (which re-exports them)
and `core.refunds`: pending_payment → paying → paid → partially_refunded → refunded;
pending_payment/paying → closed on refusal, cancel or timeout."""

PENDING_PAYMENT = "pending_payment"
PAYING = "paying"
PAID = "paid"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
CLOSED = "closed"
UNSETTLED = (PENDING_PAYMENT, PAYING)
STATUSES = (PENDING_PAYMENT, PAYING, PAID, PARTIALLY_REFUNDED, REFUNDED, CLOSED)
