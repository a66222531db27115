"""The story's predict-then-reveal questions in one place: the pages ask them before their key chart
(`ui.guess`), and the final page's teaching path lists them. Each is (question, answers); the page
computes which answer its runs give."""
from __future__ import annotations

WIDTH = ("Extra width makes every fit quicker. Whose fitting does it speed up more?",
         ["real digits", "pure noise", "about the same for both"])
FASTER = ("Which does a network fit faster: shuffled labels on real pictures, or pure static with the real labels?",
          ["shuffled labels", "pure static", "neither fits at all"])
AUGMENT = ("Each time a picture comes round it is rotated, blurred or re-lit a little. Does that make random labels "
           "easier or harder to memorize?", ["easier", "harder", "no difference"])
STOP = ("Part of the training labels are shuffled. When is the network at its best on new, correctly labelled digits?",
        ["early, before it memorizes the shuffled labels", "at the end, once it fits everything",
         "about the same all along"])

# A 15-minute path through the story for a class: (page URL path, minutes, what to do there, question asked)
PATH = [
    ("", 2, "Read the opening and meet the two students: one learned digits, one memorized shuffled labels.", None),
    ("experiment-time", 3, "Ask the class first, then reveal the three training runs.", FASTER),
    ("factors", 3, "Guess, then look at how width changes the time to fit real digits and noise.", WIDTH),
    ("training-time", 3, "Guess, then move the slider: the more labels are shuffled, the more the finish costs.", STOP),
    ("data-augmentation", 2, "Guess, then compare the bars with and without augmentation.", AUGMENT),
    ("conclusion", 2, "Close on the scoreboard: which of the paper's claims held up on our runs.", None),
]
