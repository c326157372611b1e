//! The `sqrtspace` command-line tool.
