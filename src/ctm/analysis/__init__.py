"""Analysis: figures and animations of a CTM's thinking, shared by the tasks."""
