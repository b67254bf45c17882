"""PIPL rights: the record of staff reads of health data (phi_reads)."""
