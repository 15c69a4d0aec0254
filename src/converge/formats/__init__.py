"""Pure parsers and renderers of real tools' formats (no host, no kinds): used by kinds to read
what a tool printed and by the simulated host to print it the same way."""
