"""The HTTP status of each refusal, by the command line's exit code (DESIGN.md): 2 usage -> 400,
3 rule refused -> 422, 4 not found -> 404, 5 conflict -> 409, 6 integrity -> 500."""

STATUS = {2: 400, 3: 422, 4: 404, 5: 409, 6: 500}
