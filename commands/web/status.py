"""The HTTP status a page answers with for each of the command line's exit codes (DESIGN.md):
2 usage, 3 rule refused, 4 not found, 5 conflict, 6 integrity."""

STATUS = {2: 400, 3: 422, 4: 404, 5: 409, 6: 500}
