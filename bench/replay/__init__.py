"""The replay benchmark: search strategies measured on recorded tables.

`python -m bench.replay record SPACE --out TABLE` trains every
configuration of a discretised space on several seeds (`record`, `table`);
`python -m bench.replay run TABLE...` replays search strategies against the
tables hundreds of times (`strategies`, `replay`) and writes what they found
(`report`).
"""
