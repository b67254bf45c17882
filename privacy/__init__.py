"""PIPL rights: the record of staff reads of health data (phi_reads), a patient's copy of their data
(data_exports) and the erasure of their account (erasure_requests)."""
