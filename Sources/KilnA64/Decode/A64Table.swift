// The A64 instruction table, one line per encoding, split by group in the Table*.swift files.
