import sys

from service.runtime import tune_malloc

tune_malloc()  # before any worker thread starts

from service.cli import main  # noqa: E402

sys.exit(main())
