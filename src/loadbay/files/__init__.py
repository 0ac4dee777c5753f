"""Downloads through signed links to the local storage folder."""
