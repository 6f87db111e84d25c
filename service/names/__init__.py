"""Names in every spelling: Arabic spelling variants and their skeleton key (spelling.py), English names in Arabic
script (english.py), the spellings a collection actually uses (collection.py), and the guard that keeps common words
that are also names from being expanded (guard.py). Pure, except that english.py loads arabnamer when installed."""
