"""Station alerts (站点告警): what kiosk-station reports to HQ about its hall (a window
away too long, too many people waiting), acknowledged by a named user, and the
extended-hours notice a chief may push to every screen of the station."""
