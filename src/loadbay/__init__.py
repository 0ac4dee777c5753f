"""loadbay: bulk import and export of field-operations data."""

__version__ = "0.1.0"
