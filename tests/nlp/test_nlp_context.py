"""ConText assertions: a table of real clinical phrasings per assertion type.

Each row is (sentence, target, expected flags). Flags not named are expected False
(experiencer "patient"). Positive, borderline and negative rows sit together.
"""

from __future__ import annotations

import pytest

from codeproof.nlp import NlpEngine, find_target

FLAGS = ("negated", "uncertain", "historical", "hypothetical", "conditional", "other")


def _flags(engine: NlpEngine, text: str, target: str) -> set[str]:
    start, end = find_target(text, target)
    assertion = engine.assert_span(text, start, end)
    found = {f for f in FLAGS[:-1] if getattr(assertion, f)}
    if assertion.experiencer == "other":
        found.add("other")
    return found


NEGATION = [
    # pre-negation
    ("Patient denies chest pain.", "chest pain", {"negated"}),
    ("She denied any fever, chills or night sweats.", "night sweats", {"negated"}),
    ("No evidence of pneumothorax.", "pneumothorax", {"negated"}),
    ("Lungs clear without wheezes or rales.", "rales", {"negated"}),
    ("Abdomen is soft, nontender, negative for hepatosplenomegaly.", "hepatosplenomegaly",
     {"negated"}),
    ("There is no acute distress.", "acute distress", {"negated"}),
    ("The study was not consistent with pulmonary embolism.", "pulmonary embolism", {"negated"}),
    ("Absence of bowel sounds.", "bowel sounds", {"negated"}),
    ("GI ROS is -ve for melena.", "melena", {"negated"}),
    ("He was ruled out for myocardial infarction.", "myocardial infarction", {"negated"}),
    ("Serial troponins ruled out myocardial infarction.", "myocardial infarction", {"negated"}),
    ("The CT rules out appendicitis.", "appendicitis", {"negated"}),
    ("There is low suspicion for endocarditis.", "endocarditis", {"negated"}),
    ("Free of metastatic disease.", "metastatic disease", {"negated"}),
    # post-negation
    ("Myocardial infarction was ruled out.", "myocardial infarction", {"negated"}),
    ("Fever: none.", "fever", {"negated"}),
    ("Chest pain: no.", "chest pain", {"negated"}),
    ("Urine culture: negative.", "urine culture", {"negated"}),
    ("Pericardial effusion is not seen.", "pericardial effusion", {"negated"}),
    ("Bowel sounds absent.", "bowel sounds", {"negated"}),
    # borderline: the target is itself the changed thing
    ("No change in vision.", "change in vision", {"negated"}),
    # negative rows: affirmed
    ("Patient reports chest pain.", "chest pain", set()),
    ("There is evidence of a septal infarct with negative deflections.", "septal infarct", set()),
    ("She was afebrile and vital signs were within normal limits.", "afebrile", set()),
]

PSEUDO_NEGATION = [
    ("No increase in the size of the pleural effusion.", "pleural effusion", set()),
    ("There is no change in the pulmonary nodule.", "pulmonary nodule", set()),
    ("Not only hypertension but also diabetes.", "hypertension", set()),
    ("Gram negative rods grew from the blood culture.", "rods", set()),
    ("Tolerated the procedure without difficulty; hematoma noted.", "hematoma", set()),
    ("No further workup for anemia.", "anemia", set()),
    ("The patient does not improve and develops diplopia.", "diplopia", set()),
    ("With no improvement and persistent drainage associated with fever.", "fever", set()),
    # borderline: a pseudo trigger does not stop a real one later in the sentence
    ("No change in the nodule and no new effusion.", "effusion", {"negated"}),
]

TERMINATION = [
    ("Denies chest pain but reports dyspnea.", "dyspnea", set()),
    ("No fever; cough is productive.", "cough", set()),
    ("No rash, however pruritus persists.", "pruritus", set()),
    ("No edema although calf pain is present.", "calf pain", set()),
    ("No history of CAD who presents with chest pain.", "chest pain", set()),
    ("No signs of infection. Erythema at the site.", "erythema", set()),
    ("Negative for malignancy except for atypia.", "atypia", set()),
    ("No cyanosis aside from clubbing.", "clubbing", set()),
    ("He does not smoke and has diabetes.", "diabetes", set()),
    ("No history of asthma and she reported wheezing.", "wheezing", set()),
    # borderline: a coordinated negation verb starts its own scope
    ("She denies chest pain and denies dyspnea.", "dyspnea", {"negated"}),
    # a pre-negation reaches 10 words: long lists yes, a later clause no
    ("Denies fever, chills, night sweats, weight loss, nausea or vomiting.", "vomiting",
     {"negated"}),
    ("No toxic habits and a history of lactose intolerance, diagnosed in 2003 with Crohn's "
     "disease.", "Crohn's disease", {"historical"}),
    ("No explanation for his anemia.", "anemia", set()),
    ("Extremities: no edema. Neck: supple with lymphadenopathy.", "lymphadenopathy", set()),
    ("Review (not submitted) indicates hairy cell leukemia.", "hairy cell leukemia", set()),
    # borderline: within the scope before the terminator
    ("No fever or chills, but reports nausea.", "chills", {"negated"}),
]

UNCERTAIN = [
    ("Possible pneumonia.", "pneumonia", {"uncertain"}),
    ("Probable urinary tract infection.", "urinary tract infection", {"uncertain"}),
    ("Suspected appendicitis.", "appendicitis", {"uncertain"}),
    ("Findings suspicious for malignancy.", "malignancy", {"uncertain"}),
    ("CT to rule out pulmonary embolism.", "pulmonary embolism", {"uncertain"}),
    ("Admitted, r/o MI.", "MI", {"uncertain"}),
    ("Pneumonia cannot be excluded.", "pneumonia", {"uncertain"}),
    ("Concern for sepsis.", "sepsis", {"uncertain"}),
    ("Cellulitis versus abscess.", "abscess", {"uncertain"}),
    ("Sepsis has not been ruled out.", "sepsis", {"uncertain"}),
    ("Pneumonia is likely.", "pneumonia", {"uncertain"}),
    # negative: definite statements
    ("Pneumonia confirmed on chest x-ray.", "pneumonia", set()),
    ("Cells suggestive of adenocarcinoma and after that we proceeded to search for the "
     "primary with a chest x-ray.", "chest x-ray", set()),
]

HISTORICAL = [
    ("History of breast cancer.", "breast cancer", {"historical"}),
    ("h/o DVT on warfarin.", "DVT", {"historical"}),
    ("Status post cholecystectomy.", "cholecystectomy", {"historical"}),
    ("s/p CABG in 2010.", "CABG", {"historical"}),
    ("He had a stroke years ago.", "stroke", {"historical"}),
    ("Previous myocardial infarction.", "myocardial infarction", {"historical"}),
    ("Former smoker.", "smoker", {"historical"}),
    ("No history of coronary artery disease.", "coronary artery disease",
     {"negated", "historical"}),
    ("The nodule is redemonstrated.", "nodule", {"historical"}),
    ("He has had intermittent chest pain for years.", "chest pain", {"historical"}),
    ("Diabetes for the past 10 years.", "diabetes", {"historical"}),
    ("Cough for 3 days.", "cough", set()),
    # negative: recent onset and the HPI duration phrase are not history
    ("She presents with a two-day history of cough.", "cough", set()),
    ("History of present illness: abdominal pain.", "abdominal pain", set()),
    ("History of diabetes and recent diagnosis of PE.", "PE", set()),
]

HYPOTHETICAL = [
    ("Return to the ED if chest pain develops.", "chest pain", {"hypothetical"}),
    ("Call your physician for any fever or redness.", "redness", {"hypothetical"}),
    ("Should she develop shortness of breath, she will come back.", "shortness of breath",
     {"hypothetical"}),
    ("Watch for signs of bleeding.", "bleeding", {"hypothetical"}),
    ("Ondansetron as needed for nausea.", "nausea", set()),
    ("Take ondansetron for nausea as needed.", "nausea", {"hypothetical"}),
    ("Discussed the risks of infection.", "infection", {"hypothetical"}),
    # negative: a current symptom
    ("She has nausea today.", "nausea", set()),
    ("Once the study was completed, an exploratory laparotomy was performed.",
     "exploratory laparotomy", set()),
    ("In close contact with the kidney a cystic tumor was found.", "tumor", set()),
]

CONDITIONAL = [
    ("Wheezing upon exposure to cats.", "wheezing", {"conditional"}),
    ("Chest pain with exertion.", "chest pain", {"conditional"}),
    ("Hives whenever she eats shellfish.", "hives", {"conditional"}),
    # negative
    ("Chest pain at rest.", "chest pain", set()),
]

EXPERIENCER = [
    ("Mother had breast cancer.", "breast cancer", {"other"}),
    ("Family history of colon cancer.", "colon cancer", {"other", "historical"}),
    ("His father with myocardial infarction at 50.", "myocardial infarction", {"other"}),
    ("Colon cancer in his brother.", "colon cancer", {"other"}),
    ("Paternal grandmother had diabetes.", "diabetes", {"other"}),
    ("Mother is diabetic, father has hypertension.", "hypertension", {"other"}),
    ("The donor had a history of alcoholism.", "alcoholism", {"other", "historical"}),
    ("His wife has breast cancer.", "breast cancer", {"other"}),
    ("Received a kidney transplant from a cadaveric donor.", "kidney transplant", set()),
    ("No family history of breast cancer and personal history of asthma.", "asthma",
     {"historical"}),
    ("An important smoker and the death of a brother due to lung cancer.", "smoker", set()),
    ("Parents report that he has wheezing.", "wheezing", set()),
    ("His wife noticed that he had a seizure.", "seizure", set()),
    ("Accompanied by his wife, he presents with chest pain.", "chest pain", set()),
    # negative: the relative reports on the patient
    ("His wife reports that he had a seizure.", "seizure", set()),
    ("Per his mother, he has had fever.", "fever", set()),
]

SECTIONS = [
    ("PAST MEDICAL HISTORY: Hypertension.", "hypertension", {"historical"}),
    ("FAMILY HISTORY: Diabetes.", "diabetes", {"other", "historical"}),
    ("Social history: Denies alcohol.", "alcohol", {"negated", "historical"}),
    ("ASSESSMENT AND PLAN: Pneumonia.", "pneumonia", set()),
]


@pytest.mark.parametrize(("text", "target", "expected"), NEGATION)
def test_negation(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), PSEUDO_NEGATION)
def test_pseudo_negation(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), TERMINATION)
def test_scope_termination(engine: NlpEngine, text: str, target: str,
                           expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), UNCERTAIN)
def test_uncertain(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), HISTORICAL)
def test_historical(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), HYPOTHETICAL)
def test_hypothetical(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), CONDITIONAL)
def test_conditional(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), EXPERIENCER)
def test_experiencer(engine: NlpEngine, text: str, target: str, expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


@pytest.mark.parametrize(("text", "target", "expected"), SECTIONS)
def test_section_defaults(engine: NlpEngine, text: str, target: str,
                          expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


LISTS = [
    ("Review of systems negative for:\n- Fever\n- Chills\n- Cough", "cough", {"negated"}),
    ("Denies:\nChest pain", "chest pain", {"negated"}),
    ("Denies:\n1. Fever\n2. Night sweats", "night sweats", {"negated"}),
    # negative: a trigger inside an earlier item stays in that item
    ("Symptoms:\n- No fever\n- Cough", "cough", set()),
    ("Plan:\n- Start antibiotics for pneumonia", "pneumonia", set()),
]


@pytest.mark.parametrize(("text", "target", "expected"), LISTS)
def test_list_items_inherit_the_lead_in(engine: NlpEngine, text: str, target: str,
                                        expected: set[str]) -> None:
    assert _flags(engine, text, target) == expected


def test_new_sentence_ends_scope(engine: NlpEngine) -> None:
    text = "No fever.\nCough for two weeks."
    assert _flags(engine, text, "cough") == set()


def test_cues_point_at_trigger_text(engine: NlpEngine) -> None:
    text = "She denies chest pain."
    start, end = find_target(text, "chest pain")
    assertion = engine.assert_span(text, start, end, note_id="n1")
    assert [(c.quote, c.note_id) for c in assertion.cues] == [("denies", "n1")]
    assert all(text[c.start:c.end] == c.quote for c in assertion.cues)


@pytest.mark.parametrize(("text", "target", "span"), [
    ("CHEST PAIN today.", "chest pain", (0, 10)),
    ("chest   pain", "chest pain", (0, 12)),
    ("ALLERGIES: no known allergies.", "allergies", (20, 29)),  # not the header
    ("Pain: chest pain and Chest Pain.", "Chest Pain", (21, 31)),  # exact case wins
    ("Chest X ray was clear.", "x-ray", (6, 11)),  # punctuation-insensitive fallback
    ("Crohns disease.", "Crohn's disease", (0, 14)),
    ("The x-rays and the x-ray.", "x-ray", (19, 24)),  # whole word first
    ("Painful joints.", "pain", (0, 4)),  # a part of a word when nothing else
])
def test_find_target(text: str, target: str, span: tuple[int, int]) -> None:
    assert find_target(text, target) == span


@pytest.mark.parametrize(("text", "target"), [("No fever.", "cough"), ("Fever.", "   ")])
def test_find_target_not_found(text: str, target: str) -> None:
    from codeproof.errors import TargetNotFound

    with pytest.raises(TargetNotFound) as info:
        find_target(text, target)
    assert info.value.code == "CP-NLP-005"
