"""The ``sianode`` command line, thin over the library."""
