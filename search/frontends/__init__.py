"""The front ends of the read side: the command line, the HTTP API with its search page, and
the MCP server. Each one parses its own input and calls `search.engine.Engine`; none of them
opens an index, ranks or formats results itself."""
