"""The remote client: `loadbay import|export|jobs|watch|cancel|revert|template|login` talk
to a loadbay server over HTTP only, never to a database of their own."""
