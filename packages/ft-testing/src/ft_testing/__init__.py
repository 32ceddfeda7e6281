"""ft-testing (not published): pytest fixtures shared by the ft libraries' tests.

Fixtures live in modules by concern and are registered through the ``pytest11`` entry point
(``ft_testing.plugin``), so any test environment holding ft-testing sees them.
"""

__all__: list[str] = []
