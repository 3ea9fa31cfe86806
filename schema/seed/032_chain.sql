-- Demo stores' addresses and phones, and the demo services' prices (idempotent).
update stores set address = '12 boulevard des Capucines, 75009 Paris', phone = '+33 1 40 00 00 01'
 where code = 'paris-opera' and address = '';
update stores set address = '17 rue du Docteur Bouchut, 69003 Lyon', phone = '+33 4 72 00 00 02'
 where code = 'lyon-part-dieu' and address = '';
update services set price_minor = case name when 'iPhone screen' then 27900
                                            when 'Battery' then 9900
                                            when 'Mac diagnostics' then 0
                                            when 'Setup' then 4900 end,
       description = case name when 'iPhone screen' then 'Cracked or unresponsive display, replaced the same day.'
                               when 'Battery' then 'Battery health check and replacement.'
                               when 'Mac diagnostics' then 'A full hardware test of your Mac, free of charge.'
                               when 'Setup' then 'Transfer your data and set up a new device.' end
 where price_minor is null and description = ''
   and name in ('iPhone screen', 'Battery', 'Mac diagnostics', 'Setup');
