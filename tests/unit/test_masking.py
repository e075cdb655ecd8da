from server.domain.masking import mask_name, mask_phone


def test_a_masked_name_keeps_only_its_first_character() -> None:
    assert mask_name("张三丰") == "张**"
    assert mask_name("Alexander") == "A****"


def test_a_missing_name_is_fully_masked() -> None:
    assert mask_name(None) == "***"
    assert mask_name("") == "***"


def test_a_masked_phone_hides_the_middle_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert "1234" not in (mask_phone("13812345678") or "")
