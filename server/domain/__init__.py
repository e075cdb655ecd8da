"""Pure domain rules: no I/O, no ORM, no web framework. Plain functions and dataclasses."""
