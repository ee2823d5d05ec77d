"""The typed configuration schema: frozen sections with their defaults and ranges.

``config.toml`` is read into these frozen dataclasses. Every value has a default, so the
counter runs on embedded defaults with no file at all (simulation). Each numeric key's
range is written next to its definition (:func:`ranged`, :func:`bcm_pin`).

Reading and checking a file (key lines, type conversion, the checks that span keys) is
in :mod:`device.config_load`; :func:`load` and :func:`loads` here are its public entry
points, so callers keep importing everything from ``device.config``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# How keys are declared (their ranges). Range and range_of are imported for those who
# read the schema: everything of it keeps coming from device.config.
from device.config_keys import _BAUD, _PORT, _RETRY, bcm_pin, ranged
from device.config_keys import Range as Range
from device.config_keys import range_of as range_of

# The URL of a simulated serial or link device. Spelled here only: sections say whether
# they are simulated (``.simulated``) and drivers/registry.py picks the backend by that.
SIM_URL = "sim://"


@dataclass(frozen=True)
class DeviceSection:
    site: str = "demo-site"
    id: str = "demo-w01"
    # Empty: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/counter-kiosk.
    state_dir: str = ""
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class WindowSection:
    number: int = ranged(1, 1, 999, "the number on the window")
    name: str = "户籍业务窗口"
    services: tuple[str, ...] = ()
    hours: str = "周一至周五 9:00-12:00, 14:00-17:30；周六 9:00-12:00"
    # The station's name, printed at the top of tickets and slips ("" leaves it out).
    station: str = ""
    notice: str = ""
    consult_phone: str = "12345"
    complaint_phone: str = "12389"
    # The comment book's QR code opens this page on the citizen's phone (with a reference).
    comment_url: str = "https://hq.example.gov.cn/comment"
    # The checklist slip's QR code: the online service guide (?service=CODE&v=VERSION).
    guide_url: str = "https://hq.example.gov.cn/guide"


@dataclass(frozen=True)
class OfficerEntry:
    badge: str
    name: str
    phone: str = ""
    role: str = "窗口民警"
    photo: str = ""
    # The officer panel's sign-in (device/pins.py; `kiosk hash-pin` makes one). Empty:
    # this officer cannot sign in at the panel.
    pin_hash: str = ""


@dataclass(frozen=True)
class StaffSection:
    on_duty: str = "000001"
    backup: str = "000002"
    backup_window: int = ranged(0, 0, 999, "0: no backup window")
    # Used when the officer presses the away button (the workstation can send its own).
    away_reason: str = "临时离开"
    away_minutes: int = ranged(15, 1, 720, "minutes, at most 12 hours")


@dataclass(frozen=True)
class RatingPins:
    very_satisfied: int = bcm_pin()
    satisfied: int = bcm_pin()
    basic: int = bcm_pin()
    unsatisfied: int = bcm_pin()
    very_unsatisfied: int = bcm_pin()

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GpioSection:
    # mock: gpiozero's MockFactory (simulation); lgpio for Pi 5 and Pi 4 on Bookworm.
    pin_factory: Literal["mock", "lgpio", "rpigpio", "native"] = "mock"
    rating_pins: RatingPins = RatingPins(5, 6, 13, 19, 26)
    rating_led_pins: RatingPins = RatingPins(12, 16, 20, 21, 25)
    away_pin: int = bcm_pin(23)
    next_pin: int = bcm_pin(24)
    away_led_pin: int = bcm_pin(18)
    buzzer_pin: int = bcm_pin(22)
    bounce_ms: int = ranged(50, 1, 1000, "milliseconds")
    stuck_s: float = ranged(10.0, 1.0, 3600.0, "seconds a button may be held")

    @property
    def simulated(self) -> bool:
        return self.pin_factory == "mock"


@dataclass(frozen=True)
class PrinterSection:
    transport: Literal["sim", "usb", "serial", "network"] = "sim"
    # serial: a pyserial URL or device path; network: host[:port].
    url: str = ""
    usb_vendor: int = ranged(0, 0, 0xFFFF, "a 16-bit USB id from `lsusb`")
    usb_product: int = ranged(0, 0, 0xFFFF, "a 16-bit USB id from `lsusb`")
    paper_mm: Literal[58, 80] = 80
    chinese: Literal["native", "raster"] = "native"
    retry_s: float = ranged(5.0, *_RETRY)
    # Printer-side details (docs/printer.md): the ROM font's character set (older ROMs
    # carry GB2312 only), QR drawn by the printer (GS ( k) or sent as an image, the CJK
    # font for raster text ("" = search fonts-wqy-microhei, zenhei, noto-cjk) and fonts
    # for rare characters it lacks (empty = fonts-hanazono if installed).
    rom_charset: Literal["gbk", "gb2312"] = "gbk"
    qr: Literal["native", "raster"] = "native"
    font: str = ""
    fallback_fonts: tuple[str, ...] = ()
    baudrate: int = ranged(19200, *_BAUD)
    # How long to wait for a DLE EOT reply; no reply means status unknown, never "ok".
    status_timeout_s: float = ranged(0.5, 0.05, 10.0, "seconds")

    @property
    def simulated(self) -> bool:
        return self.transport == "sim"


@dataclass(frozen=True)
class SignSection:
    # "sim://" simulates the DWIN sign; otherwise a pyserial URL (/dev/ttyUSB0, socket://...).
    url: str = SIM_URL
    baudrate: int = ranged(115200, *_BAUD)
    crc: bool = False
    # Resends after the first try: 0 tries once.
    retries: int = ranged(3, 0, 10, "resends after the first try")
    reply_timeout_s: float = ranged(0.5, 0.05, 10.0, "seconds")
    # Gone or not answering: try again this often. Everything is resent this often too
    # (a sign that was power-cycled is blank and says nothing).
    retry_s: float = ranged(2.0, *_RETRY)
    refresh_s: float = ranged(60.0, 1.0, 86400.0, "seconds")

    @property
    def simulated(self) -> bool:
        return self.url == SIM_URL


@dataclass(frozen=True)
class LinkSection:
    # "sim://": lines come from `kiosk sim link`; "tcp://HOST:PORT" listens; else serial URL.
    url: str = SIM_URL
    baudrate: int = ranged(115200, *_BAUD)
    max_line_bytes: int = ranged(4096, 256, 1_048_576, "bytes")
    max_lines_per_s: int = ranged(50, 1, 10_000, "lines a second")
    retry_s: float = ranged(2.0, *_RETRY)  # serial port gone (USB unplugged): reopen this often

    @property
    def simulated(self) -> bool:
        return self.url == SIM_URL

    @property
    def tcp(self) -> bool:
        """Listens on ``tcp://HOST:PORT`` rather than opening a serial port."""
        return self.url.startswith("tcp://")


@dataclass(frozen=True)
class PanelSection:
    """The officer panel (drivers/panel/): a page on the counter's LAN address for a desk
    PC without workstation integration. Off unless enabled, and then only on ``listen``,
    a specific address of this Pi (docs/officer-panel.md)."""

    enabled: bool = False
    listen: str = ""  # "HOST:PORT", e.g. "192.168.50.21:8080"; never 0.0.0.0 or ::
    # Desk PCs allowed to open it ("192.168.50.30" or "192.168.50.0/24"); empty: any
    # host that reaches ``listen``.
    allow_from: tuple[str, ...] = ()
    # A signed-in officer's session ends after this long without a request; another
    # officer can sign in then.
    idle_minutes: int = ranged(30, 1, 720, "minutes, at most 12 hours")
    # Wrong PINs for one badge (or from one PC) before sign-in is refused for lockout_s.
    max_failures: int = ranged(5, 1, 100, "attempts")
    lockout_s: int = ranged(300, 10, 86400, "seconds")


@dataclass(frozen=True)
class ScannerSection:
    # "sim://": scans come from `kiosk sim scan`; otherwise a pyserial URL or device path.
    url: str = SIM_URL
    baudrate: int = ranged(9600, *_BAUD)
    # A longer scan is discarded (no QR payload of ours is).
    max_line_bytes: int = ranged(512, 64, 65536, "bytes")
    retry_s: float = ranged(2.0, *_RETRY)  # serial port gone (USB unplugged): reopen this often

    @property
    def simulated(self) -> bool:
        return self.url == SIM_URL


@dataclass(frozen=True)
class TimeoutsSection:
    rating_s: float = ranged(30.0, 1.0, 600.0, "seconds")
    thanks_s: float = ranged(5.0, 0.5, 600.0, "seconds")
    idle_home_s: float = ranged(60.0, 5.0, 3600.0, "seconds")


@dataclass(frozen=True)
class SoundSection:
    enabled: bool = True
    # Empty: the clips shipped in ui/sounds. A site replaces clips by file name here.
    dir: str = ""
    player: Literal["sim", "aplay"] = "sim"

    @property
    def simulated(self) -> bool:
        return self.player == "sim"


@dataclass(frozen=True)
class MirrorSection:
    mask_id_numbers: bool = True


@dataclass(frozen=True)
class QueueSection:
    prefix: str = "A"
    green_channel: tuple[str, ...] = ()
    minutes_per_case: float = ranged(8.0, 0.5, 480.0, "minutes")
    # A few demo appointment codes when HQ has sent none (forced on by --simulate).
    demo_appointments: bool = False
    # An appointment checks in with priority from this many minutes before its slot
    # starts until this many after it ends (docs/ui.md, 预约签到).
    appointment_grace_min: int = ranged(15, 0, 120, "minutes before and after the slot")
    # A called citizen who does not come (the link's no_show) goes back into the queue
    # this many times, each time behind ``no_show_requeue_after`` waiting tickets (or at
    # the end when fewer wait); one more no-show drops the ticket for the day.
    no_show_requeue: int = ranged(1, 0, 9, "times a no-show ticket goes back into the "
                                  "queue before it is dropped (0: dropped at once)")
    no_show_requeue_after: int = ranged(3, 0, 99, "waiting tickets a requeued no-show "
                                        "goes behind (0: back where it was)")


@dataclass(frozen=True)
class StoreSection:
    # Sent events older than this are pruned from the local journal.
    # At least 32: the home screen's satisfaction rate for this month reads this month's
    # ratings from the journal (sent or not).
    retention_days: int = ranged(
        40, 32, 3650, "32 or more: this month's satisfaction rate on the home screen is "
        "counted from the ratings kept on the Pi",
        "{value} days is shorter than a month")
    # Above this size telemetry (health, faults) is shed oldest first; ratings never.
    max_db_mb: int = ranged(512, 16, 1_000_000, "megabytes")


@dataclass(frozen=True)
class MqttSection:
    host: str = ""  # empty: no broker, events stay in the outbox
    port: int = ranged(8883, *_PORT)
    tls: bool = True
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""
    topic_prefix: str = "kiosk/v1"
    keepalive_s: int = ranged(60, 5, 65535, "seconds; MQTT allows at most 65535")
    inflight: int = ranged(20, 1, 65535, "messages")
    # Events per MQTT message (a JSON array; docs/mqtt.md). Only rows already waiting are
    # grouped, so a live event is never held back; a backlog drains ~4x faster.
    batch: int = ranged(10, 1, 1000, "events per message")
    health_interval_s: float = ranged(60.0, 1.0, 86400.0, "seconds")
    # An event older than this when it is sent is flagged replayed (user property).
    replay_after_s: float = ranged(60.0, 1.0, 86400.0, "seconds")
    # Sent events HQ has not confirmed (Topics.confirmed) this long after their PUBACK are
    # published again (replayed), from HQ's confirmed seq on (docs/mqtt.md, "End to end").
    confirm_timeout_s: float = ranged(
        6.0, 1.0, 600.0, "seconds: a few (default 6); HQ confirms what it stored within "
        "about a second, and after a broker restart no event may stay missing for longer")
    client_id: str = ""  # empty: "<site>.<device>", the broker user


# What this device is in a station of several windows (docs/station.md): one of the
# windows, the entrance kiosk where numbers are taken, or the hall's calling display.
StationRole = Literal["window", "entrance", "hall"]


@dataclass(frozen=True)
class StationSection:
    """The station's shared queue (docs/station.md). Off: a standalone counter with its
    own local queue, exactly as without this section."""

    enabled: bool = False
    role: StationRole = "window"
    # The station-local broker (like [mqtt]; not the HQ broker).
    host: str = ""
    port: int = ranged(1883, *_PORT)
    tls: bool = False
    ca_file: str = ""
    username: str = ""
    password_file: str = ""
    # This device's own number block while the station does not answer ("E" for the
    # entrance, "W1" for window 1): unique per device, the station checks it at start.
    fallback_prefix: str = ""
    # A request is resent with the same rid for this long, then the device falls back.
    timeout_s: float = ranged(3.0, 0.2, 60.0, "seconds a request is resent before the "
                              "device falls back to its own number block")


@dataclass(frozen=True)
class UiSection:
    fullscreen: bool = False
    large_text: bool = False
    max_fps: int = ranged(30, 1, 240, "frames a second")


@dataclass(frozen=True)
class LoggingSection:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class Config:
    device: DeviceSection = DeviceSection()
    window: WindowSection = WindowSection()
    staff: StaffSection = StaffSection()
    roster: tuple[OfficerEntry, ...] = (
        OfficerEntry("000001", "李明", "0755-8000 0001", "窗口民警", ""),
        OfficerEntry("000002", "王芳", "0755-8000 0002", "B岗民警", ""),
    )
    gpio: GpioSection = GpioSection()
    printer: PrinterSection = PrinterSection()
    sign: SignSection = SignSection()
    link: LinkSection = LinkSection()
    panel: PanelSection = PanelSection()
    scanner: ScannerSection = ScannerSection()
    timeouts: TimeoutsSection = TimeoutsSection()
    sound: SoundSection = SoundSection()
    mirror: MirrorSection = MirrorSection()
    queue: QueueSection = QueueSection()
    store: StoreSection = StoreSection()
    mqtt: MqttSection = MqttSection()
    station: StationSection = StationSection()
    ui: UiSection = UiSection()
    logging: LoggingSection = LoggingSection()
    # Where the config came from (not a key in the file).
    source: str = field(default="<embedded defaults>", compare=False)

    @property
    def state_dir(self) -> Path:
        return resolve_state_dir(self.device.state_dir)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "kiosk.db"

    @property
    def control_socket(self) -> Path:
        return self.state_dir / "control.sock"

    def officer(self, badge: str) -> OfficerEntry | None:
        return next((o for o in self.roster if o.badge == badge), None)

    def simulated(self) -> Config:
        """The same config with every peripheral replaced by its simulator."""
        return dataclasses.replace(
            self,
            gpio=dataclasses.replace(self.gpio, pin_factory="mock"),
            printer=dataclasses.replace(self.printer, transport="sim"),
            sign=dataclasses.replace(self.sign, url=SIM_URL),
            link=dataclasses.replace(self.link, url=SIM_URL),
            scanner=dataclasses.replace(self.scanner, url=SIM_URL),
            sound=dataclasses.replace(self.sound, player="sim"),
            queue=dataclasses.replace(self.queue, demo_appointments=True),
        )

    def with_state_dir(self, path: str | Path) -> Config:
        return dataclasses.replace(
            self, device=dataclasses.replace(self.device, state_dir=str(path))
        )


def resolve_state_dir(configured: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    if os.environ.get("STATE_DIRECTORY"):
        # systemd may pass several, colon-separated; ours is the first.
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "counter-kiosk"


# The loader imports this schema, so the schema imports the loader only when called:
# there is no import cycle, and every caller keeps using device.config.load/loads.


def load(path: str | Path | None) -> Config:
    """Load and validate ``path``; ``None`` gives the embedded defaults."""
    from device import config_load

    return config_load.load(path)


def loads(text: str, source: str = "config.toml") -> Config:
    """Parse and validate the TOML ``text``; ``source`` names it in error messages."""
    from device import config_load

    return config_load.loads(text, source)
