"""Reading and writing files safely: images with size limits, atomic writes, JSON of plain
data, output folders, the user cache folder and image suffixes.

Example:
    >>> from s2w_toolkit.io.suffixes import is_image_name
    >>> is_image_name("face.PNG")
    True
"""
