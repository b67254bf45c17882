"""Care: post-visit satisfaction surveys (NPS) and complaint tickets with a 24-hour response clock."""
