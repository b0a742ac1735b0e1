from codeproof import errors


def test_codes_unique_and_stable_format() -> None:
    classes = errors.all_error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), "error codes must be unique"
    for cls in classes:
        assert cls.code.startswith("CP-"), cls
        assert issubclass(cls, errors.CodeproofError)


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in errors.all_error_classes():
        assert cls.__name__ in errors.__all__, cls.__name__
        assert cls.__name__ in doc and cls.code in doc, f"{cls.__name__} missing from the tree"


def test_to_dict_is_json_safe() -> None:
    exc = errors.UnknownCode("no such code X99", code_value="X99", n=1, obj=object())
    body = exc.to_dict()
    assert body["code"] == "CP-REF-003"
    assert body["context"] == {"code_value": "X99", "n": 1}
    assert str(exc).startswith("[CP-REF-003]")
