import pytest

# The shared helpers assert like the tests do: rewrite them so a failure shows the values compared.
pytest.register_assert_rewrite("tests.support")
