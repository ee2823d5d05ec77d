"""The live wall: every window of every station, as its last MQTT state says."""
