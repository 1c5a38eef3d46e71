"""FreeSWITCH Event Socket: the sans-I/O protocol (``protocol``), and next the mod_callcenter mapping and client."""
