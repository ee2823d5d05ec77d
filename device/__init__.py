"""counter-kiosk device core: config, events, durable store and the counter state machine.

Pure Python: nothing here imports Kivy, gpiozero, pyserial, python-escpos or paho-mqtt.
"""

__version__ = "0.1.0"
