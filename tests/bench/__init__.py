"""`make bench`: how fast journeyhub moves events, beside raw aiokafka and stock Faust.

Run as ``python -m tests.bench``; each scenario lives in its own module and the report
module prints the table and the one-line summary that scripts read.
"""
