"""``python -m hq COMMAND``: Django's management commands on the HQ database
(``KIOSK_HQ_DB``, default ``hq.db``), e.g. ``python -m hq makemigrations``."""

from __future__ import annotations

import os
import sys

from hq import conf


def main() -> None:
    from django.core.management import execute_from_command_line

    conf.configure(os.environ.get("KIOSK_HQ_DB", "hq.db"))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
