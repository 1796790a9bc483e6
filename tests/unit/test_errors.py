"""The sentence a failed turn shows: the provider's own words, and wording that says what would help."""

from __future__ import annotations

from pydantic_ai.exceptions import ModelHTTPError, ModelRateLimitError, ModelRequestTimeout, ModelTimeoutError

from varro.chat.errors import describe, overflows_context, refuses_images


def test_a_refusal_quotes_the_provider_and_does_not_promise_a_retry() -> None:
    said = describe(ModelHTTPError(400, "m", {"message": "Invalid 'messages[1]': unknown role", "type": "bad"}))
    assert "refused" in said and "HTTP 400" in said and "unknown role" in said
    assert "Try again" not in said


def test_a_server_error_quotes_the_provider() -> None:
    said = describe(ModelHTTPError(500, "m", {"message": "image input is not supported", "type": "server_error"}))
    assert "HTTP 500" in said and "image input is not supported" in said
    assert "Try again in a moment" not in said, "a permanent failure is not presented as a passing one"


def test_timeouts_say_timeout_not_connection() -> None:
    for exc in (ModelRequestTimeout("m", 3, setting="first_event_timeout"), ModelTimeoutError("m", "Read timed out")):
        said = describe(exc)
        assert "did not answer" in said and "hung" in said
        assert "connection" not in said.lower()


def test_rate_limit_quotes_the_provider() -> None:
    exc = ModelHTTPError.for_category(ModelRateLimitError, status_code=429, model_name="m",
                                      body={"message": "Rate limit reached, try again in 1s"})
    said = describe(exc)
    assert "rate limiting" in said and "Rate limit reached, try again in 1s" in said


def test_context_overflow_in_llama_cpp_words_is_recognised() -> None:
    exc = ModelHTTPError(400, "m", {"message": "the request exceeds the available context size, try increasing it",
                                    "type": "exceed_context_size_error"})
    assert overflows_context(exc)
    said = describe(exc)
    assert "too long for the model's context window" in said and "exceeds the available context size" in said


def test_image_refusals_are_recognised() -> None:
    assert refuses_images(ModelHTTPError(500, "m", {"message": "image input is not supported"}))
    assert not refuses_images(ModelHTTPError(500, "m", {"message": "out of memory"}))


def test_a_tool_call_cut_by_the_token_cap_is_told_to_the_user_not_the_developer() -> None:
    from pydantic_ai.exceptions import IncompleteToolCall, OutputTokenLimitExceeded

    for exc in (IncompleteToolCall("Model token limit (48) exceeded while generating a tool call, resulting in "
                                   "incomplete arguments. Increase the `max_tokens` model setting, or simplify the prompt"),
                OutputTokenLimitExceeded("Model token limit (48) exceeded before any response was generated. "
                                         "Increase the `max_tokens` model setting")):
        said = describe(exc)
        assert "max_tokens" not in said and "model setting" not in said and "`" not in said
        assert "limit of tokens per answer" in said
    assert "code was cut off" in describe(IncompleteToolCall("x"))
