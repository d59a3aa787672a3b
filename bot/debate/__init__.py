"""Panel debates: personas who disagree in the sources argue a proposition with their own cited words.

* `stance`: where each persona stands on the proposition (cue analysis of its own words), with
  `cue` (the cue lexicon), `claim` (how the proposition is read) and `prompt` (which question
  each answer replies to);
* `lineup`: who is seated on which side;
* `stage`: the moderator's opening, statements, rebuttal rounds and closing (`stage_debate`, `iter_debate`);
* `summary`: agreements and disagreements as pairs of cited quotes;
* `transcript`: the record and its `debate --json` shape.
"""

from bot.debate.stage import iter_debate, stage_debate
from bot.debate.transcript import Debate, DebateTurn, Summary, SummaryItem

__all__ = ["Debate", "DebateTurn", "Summary", "SummaryItem", "iter_debate", "stage_debate"]
