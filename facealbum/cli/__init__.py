"""The `facealbum` command line: main parses and dispatches, library and people and backup
hold the commands, output holds what they print."""
