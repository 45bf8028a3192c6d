"""`python -m micrograd_bp`: the same as the micrograd-bp command."""

import sys

from .cli import main

sys.exit(main())
