"""`visionpipe report`: what the cameras and the inspection line saw in a time window.

Reads a deployed or local stack's data with paging and aggregates it as it streams (memory does
not grow with the number of records): detection records from the detections bucket, verdict items
from the results table, retraining rounds from the state machine's executions. Writes one
self-contained HTML page, PNG charts, CSV extracts and report.json.

    sources.py   where the data is (stack outputs, local stack, CloudFormation) and the window
    stats.py     bounded-memory building blocks: exact confidence histograms, a quantile sketch, top-k
    detections.py / verdicts.py / rounds.py   read and aggregate each kind of data
    charts.py    matplotlib (Agg) charts as PNG bytes
    page.py      the HTML page (charts and thumbnails embedded as base64 PNG)
    build.py     one report run: read, aggregate, write
"""
