"""The tools around the HW4 solution: data, notebook runner, submit and writeup."""
