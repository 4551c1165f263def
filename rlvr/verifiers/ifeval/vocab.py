"""Word lists the argument samplers draw from (written for this package)."""
from __future__ import annotations

# Everyday nouns and adjectives that fit most writing tasks; keywords, forbidden words and
# first words are drawn from here.
KEYWORDS = (
    "river", "window", "garden", "silence", "journey", "lantern", "harbor", "morning",
    "bridge", "market", "forest", "memory", "signal", "kitchen", "mountain", "letter",
    "shadow", "island", "engine", "balance", "village", "thunder", "mirror", "ladder",
    "compass", "blanket", "orchard", "station", "canvas", "pocket", "meadow", "puzzle",
    "candle", "ticket", "rhythm", "shelter", "courage", "pattern", "harvest", "whisper",
    "planet", "recipe", "feather", "circle", "crystal", "bottle", "chapter", "horizon",
)
FORBIDDEN = (
    "very", "really", "just", "thing", "stuff", "basically", "actually", "literally",
    "amazing", "awesome", "nice", "good", "bad", "important", "interesting", "simply",
)
FIRST_WORDS = (
    "today", "however", "first", "imagine", "perhaps", "meanwhile", "finally", "yesterday",
    "sometimes", "still", "after", "before", "often", "once",
)
END_PHRASES = (
    "Is there anything else you would like to know?",
    "Let me know if you have more questions.",
    "That is all for now.",
    "Thank you for reading.",
    "Hope this helps!",
    "The end.",
)
START_PHRASES = ("Here is my answer", "Dear reader", "In short", "Once upon a time",
                 "To begin")
COMMON_LETTERS = "etaoinsrhl"  # drawn for "at least" letter counts
RARE_LETTERS = "qzxjkv"  # drawn for "less than" counts and "exactly N words with X"
SECTION_SPLITTERS = ("Section", "SECTION", "Part", "Chapter")
POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")
