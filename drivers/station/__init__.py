"""The station's shared queue (docs/station.md): the MQTT 5 request/response client, the
ticket book a window or the entrance uses with it, and the hall display's board."""
