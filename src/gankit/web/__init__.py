"""`gankit serve`: a local web page over a folder of runs."""
