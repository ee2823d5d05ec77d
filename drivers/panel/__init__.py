"""The officer panel: a page the counter serves on its LAN address for the desk PC's
browser, at windows without workstation integration (docs/officer-panel.md).

``server`` runs it (the driver), ``views`` is the Starlette app, ``forms`` turns each form
into the workstation-link request it stands for, ``sessions`` holds the one signed-in
officer and the PIN throttle, ``page`` reads what the page shows.
"""

from drivers.panel.server import OfficerPanel

__all__ = ["OfficerPanel"]
