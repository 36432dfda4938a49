-- An employee's chat identities, one per platform (issue 16/17): the CSV's chat_id (Matrix,
-- Slack or Mattermost user ID), teams_id (Azure AD object ID), lineworks_id (LINE WORKS user
-- ID). A platform's ID belongs to one employee. employees.chat_id is read no more; its values
-- move here (the first employee keeps an ID two shared).
CREATE TABLE chat_identities (
    platform TEXT NOT NULL,
    identity TEXT NOT NULL,
    employee_id TEXT NOT NULL REFERENCES employees(employee_id),
    PRIMARY KEY (platform, identity)
);
CREATE INDEX chat_identities_employee ON chat_identities (employee_id);
INSERT INTO chat_identities (platform, identity, employee_id)
    SELECT 'chat', chat_id, employee_id FROM employees
    WHERE chat_id IS NOT NULL AND chat_id <> '' ORDER BY employee_id
    ON CONFLICT DO NOTHING;
