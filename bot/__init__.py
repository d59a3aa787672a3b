"""panelbot: personas from interview articles that speak only with words they can prove."""

__version__ = "0.1.0"
