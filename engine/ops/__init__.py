"""The ops, one family per file. Each op class holds forward, backward and a one-line formula."""
