"""An offline stand-in for eSewa ePay v2 and Khalti KPG-2, served by our own server under /sandbox/.

It speaks the gateways' protocols over real HTTP (same paths, fields, casings, status codes and
signatures, with the published test credentials), keeps its transactions in the cache, and can be
told per transaction ref to misbehave (see `state.SCENARIO_KEYS`). Off in production unless
PAYMENTS_SANDBOX_ENABLED is set.
"""
