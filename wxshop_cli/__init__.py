"""wxshop: bind a card once, buy in one step, publish promotions, reconcile WeChat Pay bills."""

__version__ = "0.1.0"
