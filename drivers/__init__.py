"""Peripheral drivers: one module per device, each with a real and a simulated backend.

Nothing here opens hardware at import time; :func:`drivers.registry.build` creates the
drivers a config asks for, and each opens its device in ``start``.
"""
