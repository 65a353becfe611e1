"""Capture I/O at the edges: pcap/pcapng reading with accounting, writers, address mapping."""
