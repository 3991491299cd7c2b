"""Ecom tests. What they build (a push, a stand-in webhook) is in tests/factories.py, Ecom."""
