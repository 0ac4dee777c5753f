"""The web console: server-rendered pages over the services the JSON API uses."""
