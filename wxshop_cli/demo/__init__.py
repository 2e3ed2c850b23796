"""`wxshop demo`: the Double 11 story, a scripted client of the core (SPEC section 11).

`story` holds the context, the chapter type and the ordered `STORY`; `buyer` the buyer's
chapters (a card, an address, the strips, buying, sold out, a declined card); `funnel` the
morning's conversion funnel; `morning` the
merchant's morning after (the bill reconciles; a planted difference is found). Chapters call
the same services as the commands and describe what to draw; `views.demo` draws it.
"""
